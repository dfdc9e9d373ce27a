"""Every figure test draws in the project's style and closes its figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from dnmarkets.figures import style


@pytest.fixture(autouse=True)
def _style():
    style.setup_style()
    yield
    plt.close("all")
