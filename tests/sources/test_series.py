"""Readers of daily series datasets (dnmarkets.sources.series) on fixtures cut from the
real files (tests/fixtures/series: 51 days of Evolution's CMU-derived sales, 10 weeks
of Silk Road 2's, 60 days of the Wall Street Market forum chart), and on bad input."""

import gzip
from pathlib import Path

import pytest
import yaml

from dnmarkets.sources.series import SeriesSourceError, daily, read_series_dataset, read_series_file

FIXTURES = Path(__file__).parent.parent / "fixtures" / "series"
SALES = {
    "market": "evolution",
    "file": "evolution.csv",
    "format": "csv",
    "date": "Date",
    "columns": "^(?!Average |Cumulative )",
    "measure": "sales_usd_{column}",
    "total": "sales_usd",
}
POSTS = {
    "market": "wallstreet",
    "file": "daily_posts.html.gz",
    "format": "plotly",
    "measure": "posts",
}


def test_csv_reader_keeps_the_day_columns_and_sums_them():
    out = read_series_file(FIXTURES / "evolution.csv", SALES)
    series = out["series"]
    # 11 categories + the total, each of the 51 days
    assert series["measure"].nunique() == 12 and len(series) == 51 * 12
    assert not series["measure"].str.contains("average|cumulative").any()
    day = series[series["date"].astype(str) == "2014-10-19"].set_index("measure")["value"]
    # the fixture's second data row, as in the file (not its rolling average, 59693.53)
    assert day["sales_usd_cannabis"] == pytest.approx(74749.78, abs=0.005)
    assert day["sales_usd"] == pytest.approx(day.drop("sales_usd").sum())
    assert out["accounting"].iloc[0].to_dict() == {
        "file": "evolution.csv",
        "market": "evolution",
        "raw_rows": 51,
        "clean_rows": 51,
        "quarantined_rows": 0,
    }


def test_the_total_is_the_correctly_rounded_sum_on_every_python(tmp_path):
    """0.1 + 0.2 + 0.3 is 0.6000000000000001 added in order (Python 3.11's sum) and 0.6
    correctly rounded (math.fsum; 3.12's compensated sum): the total must not depend on
    the Python version."""
    path = _write(tmp_path, "sums.csv", 'Date,A,B,C\n"2014-10-19","0.1","0.2","0.3"\n')
    out = read_series_file(path, {**SALES, "file": "sums.csv"})
    values = out["series"].set_index("measure")["value"]
    assert values["sales_usd"] == 0.6
    assert 0.1 + 0.2 + 0.3 != 0.6  # the order-of-addition sum would differ


def test_weekly_rows_are_read_as_they_are():
    out = read_series_dataset([{**SALES, "market": "silkroad2", "file": "silkroad2.csv"}], FIXTURES)
    days = out["series"]["date"].drop_duplicates().sort_values()
    assert len(days) == 10 and set(days.diff().dropna().dt.days) == {7}


def test_plotly_reader_finds_the_inline_json_and_zero_fills():
    out = read_series_dataset([POSTS], FIXTURES)
    posts = daily(out["series"], "wallstreet", "posts", fill_zero=True)
    assert (
        str(posts.index[0].date()) == "2017-09-08" and str(posts.index[-1].date()) == "2017-11-06"
    )
    assert len(posts) == 60  # the chart has a point for every day of this stretch
    assert out["accounting"]["raw_rows"].iloc[0] == 60


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_rows_are_quarantined_with_field_and_reason(tmp_path):
    lines = (FIXTURES / "evolution.csv").read_text().splitlines()
    header = lines[0]
    rows = lines[1:6]
    rows[1] = rows[1].replace(rows[1].split(",")[0], '"2014-02-30"', 1)  # no such day
    rows[2] = rows[2].replace('"', "", 2).replace(rows[2].split(",")[1].strip('"'), "lots", 1)
    rows[3] = rows[0]  # the same day twice
    rows[4] = rows[4].replace(rows[4].split(",")[4], '"-5"', 1)
    path = _write(tmp_path, "bad.csv", "\n".join([header, *rows]) + "\n")
    out = read_series_file(path, {**SALES, "file": "bad.csv"})
    reasons = out["quarantine"].set_index("raw_row")[["field", "reason"]].to_dict("index")
    assert reasons[2] == {"field": "Date", "reason": "unparseable_date"}
    assert reasons[3]["reason"] == "unparseable_value" and reasons[3]["field"] == "Cannabis"
    assert reasons[4] == {"field": "Date", "reason": "duplicate_date"}
    assert reasons[5]["reason"] == "negative_value"
    acc = out["accounting"].iloc[0]
    assert acc["raw_rows"] == 5 == acc["clean_rows"] + acc["quarantined_rows"]
    assert acc["clean_rows"] == 1


def test_a_short_row_is_quarantined_not_shifted(tmp_path):
    lines = (FIXTURES / "evolution.csv").read_text().splitlines()
    cut = lines[2].rsplit(",", 3)[0]
    path = _write(tmp_path, "short.csv", "\n".join([lines[0], lines[1], cut]) + "\n")
    out = read_series_file(path, {**SALES, "file": "short.csv"})
    assert out["quarantine"][["raw_row", "field", "reason"]].values.tolist() == [
        [2, "row", "field_count"]
    ]


def test_csv_errors_name_the_file_and_what_is_missing(tmp_path):
    path = _write(tmp_path, "nodate.csv", "Day,Cannabis\n2014-01-01,5\n")
    with pytest.raises(SeriesSourceError, match=r"nodate\.csv: date column 'Date' not found"):
        read_series_file(path, SALES)
    path = _write(tmp_path, "latin.csv", "")
    path.write_bytes("Date,Cannabis\n2014-01-01,5\xd6\n".encode("latin-1"))
    with pytest.raises(SeriesSourceError, match=r"latin\.csv: data row 1, field 'Cannabis'"):
        read_series_file(path, SALES)


def test_plotly_errors_name_the_file(tmp_path):
    path = tmp_path / "chart.html"
    path.write_text("<html><script>var x = 1;</script></html>")
    with pytest.raises(SeriesSourceError, match=r"chart\.html: no Plotly\.newPlot"):
        read_series_file(path, POSTS)
    path.write_text('<script>Plotly.newPlot("id", [{"x": ["2017-01-01"], "y": [1, 2]}])</script>')
    with pytest.raises(SeriesSourceError, match=r"chart\.html: trace 0 has 1 x values and 2 y"):
        read_series_file(path, POSTS)
    path.write_text('<script>Plotly.newPlot("id", [{"x": ["2017-01-01"], "y": [1,]}])</script>')
    with pytest.raises(SeriesSourceError, match=r"chart\.html: the data of Plotly\.newPlot"):
        read_series_file(path, POSTS)


def test_plotly_points_with_bad_dates_or_counts_are_quarantined(tmp_path):
    with gzip.open(FIXTURES / "daily_posts.html.gz", "rt") as handle:
        html = handle.read()
    html = html.replace('"2017-09-08"', '"2017-09-31"', 1)  # no such day
    path = tmp_path / "posts.html"
    path.write_text(html)
    out = read_series_file(path, POSTS)
    assert out["quarantine"][["raw_row", "reason"]].values.tolist() == [[1, "unparseable_date"]]
    assert out["accounting"]["clean_rows"].iloc[0] == 59


def test_the_real_files_as_configured(mirror):
    """Every configured series file of the real mirror, read as config.yaml says: the
    day counts and the forum's post total given in the mirror's README."""
    config = yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text())
    forum = read_series_dataset(config["datasets"]["wsm_forum"]["series"], mirror)
    assert forum["accounting"]["raw_rows"].tolist() == [612]
    assert forum["series"]["value"].sum() == 45372
    sales = read_series_dataset(config["datasets"]["cmu_sales"]["series"], mirror)
    acc = sales["accounting"].set_index("market")
    assert acc["raw_rows"].to_dict() == {"alphabay": 884, "evolution": 402, "silkroad2": 52}
    assert (acc["raw_rows"] == acc["clean_rows"] + acc["quarantined_rows"]).all()
    # 11 categories and their total per day; no rolling averages or cumulative sums
    assert sales["series"].groupby("market")["measure"].nunique().eq(12).all()
