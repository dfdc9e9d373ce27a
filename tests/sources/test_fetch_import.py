"""Obtaining real data (mirror, download) with checksums, and the declarative importer."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dnmarkets.sources.fetch import FetchError, fetch_source, read_sources
from dnmarkets.sources.partitions import tabular_partitions
from dnmarkets.sources.tabular import ImportSpecError, import_dataset, map_column

ROOT = Path(__file__).resolve().parents[2]
CSV = b"name,price,from\nWeed 5g,0.1,UK\nCoke 1g,0.25,NL\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def mirror_dir(tmp_path):
    """A mirror with one gzipped source file, and a sources.tsv describing it."""
    stored = gzip.compress(CSV, mtime=0)
    folder = tmp_path / "mirror" / "demo"
    folder.mkdir(parents=True)
    (folder / "2015-01-02_cat.csv.gz").write_bytes(stored)
    sources = tmp_path / "sources.tsv"
    sources.write_text(
        "# comment\nsource\tpath\tsha256\tsha256_original\turl\n"
        f"demo\tdemo/2015-01-02_cat.csv.gz\t{sha(stored)}\t{sha(CSV)}\tURL\n"
    )
    return tmp_path


def test_project_sources_list_every_real_dataset():
    sources = read_sources(ROOT / "data" / "sources.tsv")
    names = {s.source for s in sources}
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    used = {spec["source"] for spec in config["datasets"].values() if "source" in spec}
    # every source a dataset reads, and the reference data (rates, registry), nothing else
    assert names == used | {"reference"}
    assert all(len(s.sha256) == 64 for s in sources)
    assert sum(s.path.startswith("agora-2014-2015/listings/") for s in sources) == 201
    assert sum(s.source == "alphabay2017" for s in sources) == 69


def test_mirror_copy_is_verified(mirror_dir):
    records = fetch_source(
        "demo", mirror_dir / "raw", mirror_dir / "mirror", False, mirror_dir / "sources.tsv"
    )
    assert [r["obtained_by"] for r in records] == ["mirror"]
    copied = mirror_dir / "raw" / "files" / "demo" / "2015-01-02_cat.csv.gz"
    assert gzip.decompress(copied.read_bytes()) == CSV


def test_mirror_with_a_damaged_file_fails_naming_it(mirror_dir):
    (mirror_dir / "mirror" / "demo" / "2015-01-02_cat.csv.gz").write_bytes(b"damaged")
    with pytest.raises(FetchError, match=r"2015-01-02_cat\.csv\.gz: sha256 .* differs"):
        fetch_source(
            "demo", mirror_dir / "raw", mirror_dir / "mirror", False, mirror_dir / "sources.tsv"
        )
    assert not (mirror_dir / "raw" / "files" / "demo" / "2015-01-02_cat.csv.gz").exists()


def test_mirror_missing_a_file_says_what_to_do(mirror_dir):
    (mirror_dir / "mirror" / "demo" / "2015-01-02_cat.csv.gz").unlink()
    with pytest.raises(FetchError, match="missing from the mirror.*download: true"):
        fetch_source(
            "demo", mirror_dir / "raw", mirror_dir / "mirror", False, mirror_dir / "sources.tsv"
        )


def test_no_mirror_and_no_download_stops_with_advice(mirror_dir):
    with pytest.raises(FetchError, match="--config mirror="):
        fetch_source("demo", mirror_dir / "raw", None, False, mirror_dir / "sources.tsv")


def serve(directory: Path):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(directory), **k
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("served, ok", [(CSV, True), (CSV + b"tampered\n", False)])
def test_download_verifies_the_original(mirror_dir, tmp_path, served, ok):
    web = tmp_path / "web"
    web.mkdir()
    (web / "orig.csv").write_bytes(served)
    server = serve(web)
    try:
        url = f"http://127.0.0.1:{server.server_port}/orig.csv"
        sources = mirror_dir / "sources.tsv"
        sources.write_text(sources.read_text().replace("URL", url))
        dest = mirror_dir / "raw" / "files" / "demo" / "2015-01-02_cat.csv.gz"
        if ok:
            fetch_source("demo", mirror_dir / "raw", None, True, sources)
            assert gzip.decompress(dest.read_bytes()) == CSV
        else:
            with pytest.raises(FetchError, match="differs .* not kept"):
                fetch_source("demo", mirror_dir / "raw", None, True, sources)
            assert not dest.exists()
    finally:
        server.shutdown()


def test_download_offline_says_to_use_a_mirror(mirror_dir):
    sources = mirror_dir / "sources.tsv"
    sources.write_text(sources.read_text().replace("URL", "http://127.0.0.1:9/none.csv"))
    with pytest.raises(FetchError, match="download failed.*set `mirror`"):
        fetch_source("demo", mirror_dir / "raw", None, True, sources, timeout=5)


SPEC = {
    "market": {"slug": "demo", "name": "Demo"},
    "listings": {
        "files": "demo/*_cat.csv.gz",
        "crawl_date": {"filename": r"^(\d{4}-\d{2}-\d{2})_cat"},
        "columns": {
            "listing_id": {"hash": ["name", "from"]},
            "title": "name",
            "price": {"template": "{price} BTC"},
            "category": {"constant": "Drugs"},
            "ships_from": "from",
        },
    },
}


def test_import_maps_every_row_in_order(mirror_dir):
    accounting = import_dataset(SPEC, mirror_dir / "mirror", mirror_dir / "out")
    assert accounting[["source_rows", "rows"]].values.tolist() == [[2, 2]]
    snap = pd.read_csv(
        mirror_dir / "out" / "snapshots" / "demo" / "2015-01-02_listings.csv.gz",
        dtype=str,
        keep_default_na=False,
    )
    assert snap["title"].tolist() == ["Weed 5g", "Coke 1g"]
    assert snap["price"].tolist() == ["0.1 BTC", "0.25 BTC"]
    assert snap["category"].tolist() == ["Drugs", "Drugs"]
    assert snap["vendor"].tolist() == ["", ""]  # not mapped: empty, cleaning quarantines
    assert snap["listing_id"].str.fullmatch(r"h[0-9a-f]{16}").all()
    manifest = pd.read_csv(mirror_dir / "out" / "manifest.tsv", sep="\t")
    assert manifest["path"].tolist() == ["snapshots/demo/2015-01-02_listings.csv.gz"]


def test_import_is_deterministic(mirror_dir):
    a = import_dataset(SPEC, mirror_dir / "mirror", mirror_dir / "a")
    b = import_dataset(SPEC, mirror_dir / "mirror", mirror_dir / "b")
    pa = pd.read_csv(mirror_dir / "a" / "manifest.tsv", sep="\t")
    pb = pd.read_csv(mirror_dir / "b" / "manifest.tsv", sep="\t")
    assert a.equals(b) and pa["sha256"].tolist() == pb["sha256"].tolist()


def test_mapping_errors_name_the_file_and_column(mirror_dir):
    spec = {**SPEC, "listings": {**SPEC["listings"], "columns": {"title": "nmae"}}}
    with pytest.raises(
        ImportSpecError, match=r"2015-01-02_cat\.csv\.gz \(listings\.title\).*'nmae'"
    ):
        import_dataset(spec, mirror_dir / "mirror", mirror_dir / "out")


def test_column_specs():
    frame = pd.DataFrame({"a": ["x", ""], "link": ["p?offer=12.5", "none"]})
    assert map_column(frame, {"template": "{a} BTC"}, "t").tolist() == ["x BTC", ""]
    got = map_column(frame, {"column": "link", "regex": r"offer=([0-9.]+)"}, "t")
    assert got.tolist() == ["12.5", ""]
    assert map_column(frame, None, "t").tolist() == ["", ""]


def test_partitions_of_a_tabular_dataset_come_from_file_names():
    paths = [f"demo/2015-0{m}-0{d}_cat.csv.gz" for m in (1, 2, 4) for d in (1, 2)]
    assert tabular_partitions(SPEC, paths, 1) == ["demo__2015-01", "demo__2015-02", "demo__2015-04"]
    assert tabular_partitions(SPEC, paths, 3) == ["demo__2015-01", "demo__2015-04"]
    spec = {**SPEC, "period": ["2015-02-01", "2015-12-31"]}
    assert tabular_partitions(spec, paths, 1) == ["demo__2015-02", "demo__2015-04"]
