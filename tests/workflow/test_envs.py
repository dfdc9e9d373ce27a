"""The conda environments in envs/ pin exactly the versions of uv.lock."""

import importlib.util
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("make_envs", ROOT / "tools" / "make_envs.py")
make_envs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_envs)


def pinned(env_file: Path) -> dict[str, str]:
    env = yaml.safe_load(env_file.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    out = {}
    for line in pip:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s]+)", line)
        assert match, f"{env_file.name}: unpinned requirement {line!r}"
        out[match[1]] = match[2]
    return out


def test_every_env_pins_the_locked_versions():
    locked = make_envs.locked_versions()
    for env_file in sorted((ROOT / "envs").glob("*.yaml")):
        for name, version in pinned(env_file).items():
            assert locked.get(name) == version, (
                f"{env_file.name}: {name}=={version}, lock has {locked.get(name)}"
            )


def test_envs_are_up_to_date_with_the_generator():
    versions = make_envs.locked_versions()
    for group, packages in make_envs.GROUPS.items():
        expected = make_envs.render(group, packages, versions)
        actual = (ROOT / "envs" / f"{group}.yaml").read_text()
        assert actual == expected, f"envs/{group}.yaml is stale: run tools/make_envs.py"


def test_every_rule_env_exists():
    used = set()
    for smk in (ROOT / "rules").glob("*.smk"):
        used |= set(re.findall(r'"\.\./envs/([a-z]+)\.yaml"', smk.read_text()))
    assert used, "no conda directives found"
    for name in used:
        assert (ROOT / "envs" / f"{name}.yaml").exists(), name
        assert name in make_envs.GROUPS
