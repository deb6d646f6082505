"""Epoch AI model files: parsing (quoted line breaks, lists, bad values), and model credits."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.ai.models import CREDIT_COLUMNS, model_credits
from pipelines.http import SourceFormatError
from pipelines.schemas.ai import AI_MODELS
from pipelines.schemas.rejects import REJECT_SCHEMA
from pipelines.sources.epoch_models import read_epoch_models
from tests.conftest import FIXTURES, SHARED_DATA, needs_shared_data

AI = FIXTURES / "ai"
EPOCH = SHARED_DATA / "ai"
FILES = {
    "all": "epoch-all-ml-systems-2025-06.csv",
    "notable": "notable_ai_models.csv",
    "large_scale": "large_scale_ai_models.csv",
    "frontier": "frontier_ai_models.csv",
}
needs_epoch = pytest.mark.skipif(not EPOCH.is_dir(), reason=f"no Epoch AI files at {EPOCH}")


@pytest.fixture(scope="module")
def notable() -> tuple[pl.DataFrame, pl.DataFrame]:
    return read_epoch_models((AI / "notable_models.csv").read_bytes(), "notable", "epoch.notable")


def by_model(models: pl.DataFrame, name: str) -> dict:
    return models.filter(pl.col("model") == name).row(0, named=True)


def test_one_row_per_record_with_quoted_line_breaks(notable) -> None:
    models, _ = notable
    assert models.columns == list(AI_MODELS.descriptions)
    assert models["model"].to_list() == [
        "Alpha-1",
        "Beta-2",
        "Gamma",
        "Delta",
        "Epsilon",
        "Zeta",
        "Eta",
        "Theta",
    ]
    assert models["row"].to_list() == list(range(1, 9))
    assert models.schema["publication_date"] == pl.Date
    assert models.schema["organizations"] == pl.List(pl.String)
    # the record after the multi-line, tab-holding notes is read whole
    alpha = by_model(models, "Alpha-1")
    assert alpha["training_compute_flop"] == 1e24
    assert alpha["parameters"] == 7e9
    assert alpha["training_cost_usd_2023"] == 1200000.5  # "$1200000.50"
    assert alpha["publication_date"] == date(2023, 3, 15)
    assert set(models["dataset"]) == {"notable"} and set(models["feed"]) == {"epoch.notable"}


def test_several_organisations_with_aligned_countries_and_categories(notable) -> None:
    models, _ = notable
    beta = by_model(models, "Beta-2")
    assert beta["organizations"] == ["Lab A", "Uni B"]
    assert beta["countries"] == ["US", "GB"]
    assert beta["organization_categories"] == ["Industry", "Academia"]
    assert by_model(models, "Gamma")["countries"] == ["KR"]  # "Korea (Republic of)"
    assert by_model(models, "Theta")["countries"] == ["US", "TW"]


def test_organisation_names_holding_commas(notable) -> None:
    models, _ = notable
    # quoted: the comma is part of the name
    assert by_model(models, "Zeta")["organizations"] == ["Sambo Systems, Inc", "Uni B"]
    # ", " with one country: one organisation
    assert by_model(models, "Eta")["organizations"] == ["Qilin Network Technology Co., Ltd. (QNT)"]
    # ", " with two countries and two categories: two organisations
    assert by_model(models, "Theta")["organizations"] == [
        "Massachusetts Institute of Technology (MIT)",
        "Genesis Therapeutics",
    ]
    epsilon = by_model(models, "Epsilon")
    assert epsilon["organizations"] == [] and epsilon["countries"] == []


def test_bad_values_are_reported_and_the_row_kept(notable) -> None:
    models, problems = notable
    gamma = by_model(models, "Gamma")
    assert gamma["publication_date"] is None
    assert gamma["training_compute_flop"] is None
    assert gamma["parameters"] == 3.5e8  # the other fields survive
    assert by_model(models, "Zeta")["countries"] == ["MULTINATIONAL", "unknown"]
    assert problems.schema == pl.Schema(REJECT_SCHEMA)
    assert problems.rows() == [
        ("epoch.notable", "row 3", "Publication date", "2023-13-45", "not a date (YYYY-MM-DD)"),
        ("epoch.notable", "row 3", "Training compute (FLOP)", "about 1e23", "not a number"),
        ("epoch.notable", "row 6", "Country (of organization)", "Atlantis", "unknown country name"),
        ("epoch.notable", "row 6", "Parameters", "unknown", "not a number"),
        ("epoch.notable", "row 7", "Model accessibility", "Beta access", "unknown accessibility"),
    ]


def test_accessibility_mapping_and_frontier_flag(notable) -> None:
    models, _ = notable
    assert models["accessibility"].to_list() == [
        "open_unrestricted",
        "api",
        "open_restricted",  # non-commercial
        "unreleased",
        "hosted",
        "open_restricted",  # restricted use
        None,  # "Beta access": unknown
        None,  # empty
    ]
    assert models["accessibility_raw"][6] == "Beta access"
    assert models["frontier"].to_list() == [True, False, False, True, False, False, False, False]


def test_columns_a_file_lacks_are_null() -> None:
    data = (AI / "large_scale_models.csv").read_bytes()
    models, problems = read_epoch_models(data, "large_scale", "epoch.large")
    assert problems.is_empty()
    assert models["organization_categories"].to_list() == [None, None]
    assert models["training_cost_usd_2023"].to_list() == [None, None]
    assert models["frontier"].to_list() == [None, None]
    assert models["countries"].to_list() == [["US", "FR"], ["FR"]]
    frontier, _ = read_epoch_models(data, "frontier", "epoch.frontier")
    assert frontier["frontier"].to_list() == [True, True]  # every row of the frontier file


def test_missing_columns_and_unknown_dataset() -> None:
    with pytest.raises(SourceFormatError, match=r"epoch\.bad: .*Organization"):
        read_epoch_models(b"Model,Publication date\nX,2024-01-01\n", "all", "epoch.bad")
    with pytest.raises(ValueError, match="unknown dataset"):
        read_epoch_models(b"Model,Organization\nX,Y\n", "everything", "epoch.bad")


def test_credits_split_a_model_between_its_entities(notable) -> None:
    models, _ = notable
    organizations = model_credits(models, "organization")
    assert organizations.columns == list(CREDIT_COLUMNS)
    beta = organizations.filter(pl.col("model") == "Beta-2")
    assert beta.select("entity", "credit").rows() == [("Lab A", 0.5), ("Uni B", 0.5)]
    unknown = organizations.filter(pl.col("model") == "Epsilon")
    assert unknown.select("entity", "credit").rows() == [("unknown", 1.0)]
    # every model row's credits sum to 1 in every dimension
    for dimension in ("organization", "country", "organization_category"):
        sums = model_credits(models, dimension).group_by("row").agg(pl.col("credit").sum())
        assert sums.height == 8 and sums["credit"].to_list() == pytest.approx([1.0] * 8)
    countries = model_credits(models, "country")
    # one organisation in two countries: split between them
    assert countries.filter(pl.col("model") == "Delta").select("entity", "credit").rows() == [
        ("GB", 0.5),
        ("US", 0.5),
    ]
    # the file has no categories: no credits rather than 'unknown'
    large, _ = read_epoch_models((AI / "large_scale_models.csv").read_bytes(), "large_scale", "f")
    assert model_credits(large, "organization_category").is_empty()


def test_two_organisations_of_one_country_give_it_the_whole_model() -> None:
    data = (
        b"Model,Organization,Country (of organization)\n"
        b'Duo,"Uni X,Lab Y","United States of America,United States of America"\n'
        b'Pair,"Uni X,Lab Z","United States of America,United Kingdom of Great Britain and '
        b'Northern Ireland"\n'
    )
    models, _ = read_epoch_models(data, "all", "inline")
    credits = model_credits(models, "country").select("model", "entity", "credit").rows()
    assert credits == [("Duo", "US", 1.0), ("Pair", "GB", 0.5), ("Pair", "US", 0.5)]
    with pytest.raises(ValueError, match="unknown dimension"):
        model_credits(models, "continent")


# --- the real Epoch files ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def epoch() -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    return {
        dataset: read_epoch_models((EPOCH / name).read_bytes(), dataset, f"epoch.{dataset}")
        for dataset, name in FILES.items()
    }


@needs_shared_data
@needs_epoch
@pytest.mark.shared_data
def test_real_files_row_counts_and_problems(epoch) -> None:
    assert {dataset: models.height for dataset, (models, _) in epoch.items()} == {
        "all": 1892,
        "notable": 952,
        "large_scale": 473,
        "frontier": 131,
    }
    assert {dataset: problems.height for dataset, (_, problems) in epoch.items()} == {
        "all": 1,
        "notable": 0,
        "large_scale": 0,
        "frontier": 0,
    }
    assert epoch["all"][1].row(0) == (
        "epoch.all",
        "row 374",
        "Model",
        "P-LLama3",
        "model name repeated (first at row 371); both rows kept",
    )
    everything = pl.concat([models for models, _ in epoch.values()])
    assert everything["publication_date"].null_count() == 0
    # costs written "$6770000.00" in the all file are read
    assert epoch["all"][0]["training_cost_usd_2023"].count() == 160
    assert epoch["frontier"][0]["frontier"].all()
    assert epoch["notable"][0]["frontier"].sum() == 117


@needs_shared_data
@needs_epoch
@pytest.mark.shared_data
def test_real_us_share_of_notable_models_in_2023(epoch) -> None:
    models, _ = epoch["notable"]
    credits = model_credits(models, "country").filter(pl.col("publication_date").dt.year() == 2023)
    assert credits["credit"].sum() == pytest.approx(116)
    us = credits.filter(pl.col("entity") == "US")["credit"].sum()
    assert us / 116 == pytest.approx(0.567357, abs=1e-6)
