"""The catalog data files: the figures of docs/dataset.md, and load-time checks that name file and SKU."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from seeding.catalog_loader import CATALOG_DIR, CatalogError, load_catalog
from zava_core.model import MONTHS

# docs/dataset.md section 1: products per category, and the seasonal multipliers (Jan..Dec).
DATASET_PRODUCTS_PER_CATEGORY = {
    "HAND TOOLS": 31, "POWER TOOLS": 49, "PAINT & FINISHES": 51, "HARDWARE": 50,
    "LUMBER & BUILDING MATERIALS": 50, "ELECTRICAL": 50, "PLUMBING": 50, "GARDEN & OUTDOOR": 43,
    "STORAGE & ORGANIZATION": 50,
}
DATASET_SEASONALITY = {
    "HAND TOOLS": (1.0, 1.0, 1.2, 1.4, 1.6, 1.5, 1.5, 1.4, 1.2, 1.1, 1.0, 0.9),
    "POWER TOOLS": (0.9, 0.9, 1.1, 1.5, 1.8, 2.0, 2.1, 1.9, 1.4, 1.2, 1.0, 0.8),
    "PAINT & FINISHES": (1.2, 1.1, 1.8, 2.2, 2.0, 1.9, 1.8, 1.6, 1.3, 1.1, 1.0, 1.2),
    "HARDWARE": (1.0, 1.0, 1.1, 1.3, 1.2, 1.1, 1.0, 1.0, 1.4, 1.8, 1.6, 1.2),
    "LUMBER & BUILDING MATERIALS": (0.8, 0.7, 1.2, 1.6, 2.0, 2.2, 2.1, 1.8, 1.3, 1.0, 0.8, 0.7),
    "ELECTRICAL": (1.2, 1.1, 1.0, 1.1, 1.2, 1.3, 1.2, 1.1, 1.2, 1.4, 1.6, 1.5),
    "PLUMBING": (1.1, 1.0, 1.2, 1.4, 1.3, 1.2, 1.1, 1.0, 1.3, 1.6, 1.4, 1.2),
    "GARDEN & OUTDOOR": (0.6, 0.5, 1.5, 2.5, 2.2, 1.8, 1.6, 1.4, 1.3, 1.0, 0.7, 0.5),
    "STORAGE & ORGANIZATION": (1.4, 1.6, 1.2, 1.0, 0.9, 0.8, 0.8, 0.9, 1.1, 1.2, 1.3, 1.8),
}
# Types whose product count is not 5 (docs/dataset.md, "Product types per category").
DATASET_ODD_TYPE_COUNTS = {
    ("HAND TOOLS", "FILES & RASPS"): 2, ("HAND TOOLS", "HAMMERS"): 4, ("HAND TOOLS", "HAND SAWS"): 1,
    ("HAND TOOLS", "PLIERS"): 4, ("POWER TOOLS", "RECIPROCATING SAWS"): 4, ("PAINT & FINISHES", "SPRAY PAINT"): 6,
    ("GARDEN & OUTDOOR", "HAND TOOLS"): 2, ("GARDEN & OUTDOOR", "MULCH"): 4,
    ("GARDEN & OUTDOOR", "PRUNING TOOLS"): 2,
}
SKU = re.compile(r"^([A-Z]{2})([A-Z]{2})(\d{6})$")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def taxonomy() -> dict:
    return json.loads((CATALOG_DIR / "taxonomy.json").read_text(encoding="utf-8"))


def test_dataset_totals(catalog) -> None:
    assert len(catalog.categories) == 9
    assert len(catalog.types) == 89
    assert len(catalog.products) == 424
    # 424 products over 88 types; the 89th type exists with no product.
    assert sum(1 for t in catalog.types if t.product_count == 0) == 1
    assert len({p.type for p in catalog.products}) == 88


def test_products_per_category_match_dataset(catalog) -> None:
    per_category = Counter(p.category.name for p in catalog.products)
    assert dict(per_category) == DATASET_PRODUCTS_PER_CATEGORY


def test_seasonal_multipliers_match_dataset(catalog) -> None:
    loaded = {c.name: tuple(c.seasonal_multipliers[m] for m in MONTHS) for c in catalog.categories}
    assert loaded == DATASET_SEASONALITY


def test_counts_per_type_as_in_taxonomy(catalog, taxonomy) -> None:
    expected = {(c["name"], t["name"]): t["product_count"] for c in taxonomy["categories"] for t in c["types"]}
    actual = Counter((p.category.name, p.type.name) for p in catalog.products)
    assert len(expected) == 89
    for key, count in expected.items():
        assert actual.get(key, 0) == count, key
    assert set(actual) <= set(expected)
    for key, count in DATASET_ODD_TYPE_COUNTS.items():
        assert expected[key] == count, key
    assert all(count in (0, 5) for key, count in expected.items() if key not in DATASET_ODD_TYPE_COUNTS)


def test_sku_is_category_code_type_code_and_six_digits(catalog) -> None:
    for product in catalog.products:
        match = SKU.match(product.sku)
        assert match, product.sku
        assert match.group(1) == product.category.code, product.sku
        assert match.group(2) == product.type.code, product.sku
        assert product.product_id == "prod_" + product.sku


def test_codes_identify_category_and_type(catalog) -> None:
    codes = [c.code for c in catalog.categories]
    assert len(set(codes)) == len(codes)
    for category in catalog.categories:
        type_codes = [t.code for t in category.types]
        assert len(set(type_codes)) == len(type_codes), category.name
    # Ids are derived from names; they are document _ids, so they must be unique.
    assert len({c.category_id for c in catalog.categories}) == 9
    assert len({t.type_id for t in catalog.types}) == 89


def test_skus_and_names_are_unique(catalog) -> None:
    skus = [p.sku for p in catalog.products]
    names = [p.name for p in catalog.products]
    assert len(set(skus)) == len(skus)
    assert len(set(names)) == len(names)


def test_product_content(catalog) -> None:
    for product in catalog.products:
        assert product.name.strip() and product.description.strip(), product.sku
        assert 1 <= product.cost <= 500 and round(product.cost, 2) == product.cost, product.sku
        assert product.specifications, product.sku
        assert all(isinstance(v, str | int | float | bool) for v in product.specifications.values()), product.sku
    costs = [p.cost for p in catalog.products]
    # docs/dataset.md: catalog prices run from about $2 to $475.
    assert min(costs) < 5 and 400 < max(costs) <= 500


# --- corrupted copies --------------------------------------------------------------------------


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, target)
    return target


def _edit_products(directory: Path, file_name: str, edit) -> None:
    path = directory / "products" / file_name
    entries = json.loads(path.read_text(encoding="utf-8"))
    edit(entries)
    path.write_text(json.dumps(entries, indent=2), encoding="utf-8")


def _first_of_type(entries: list[dict], type_name: str) -> dict:
    return next(e for e in entries if e["type"] == type_name)


def test_unmodified_copy_loads_with_the_same_content_hash(catalog, catalog_copy: Path) -> None:
    copy = load_catalog(catalog_copy)
    assert len(copy.products) == len(catalog.products)
    assert copy.content_hash == catalog.content_hash


def test_a_text_edit_changes_the_content_hash(catalog, catalog_copy: Path) -> None:
    def edit(entries: list[dict]) -> None:
        entries[0]["description"] += " Now in blue."

    _edit_products(catalog_copy, "hand_tools.json", edit)
    assert load_catalog(catalog_copy).content_hash != catalog.content_hash


def test_wrong_sku_prefix_names_file_and_sku(catalog_copy: Path) -> None:
    bad_sku = "PTAK999999"  # a power-tools prefix on a hand-tools allen key

    def edit(entries: list[dict]) -> None:
        _first_of_type(entries, "ALLEN KEYS")["sku"] = bad_sku

    _edit_products(catalog_copy, "hand_tools.json", edit)
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_copy)
    assert "hand_tools.json" in str(info.value)
    assert bad_sku in str(info.value)


def test_sku_with_five_digits_is_refused(catalog_copy: Path) -> None:
    def edit(entries: list[dict]) -> None:
        _first_of_type(entries, "DRILLS")["sku"] = "PTDR12345"

    _edit_products(catalog_copy, "power_tools.json", edit)
    with pytest.raises(CatalogError, match=r"power_tools\.json PTDR12345"):
        load_catalog(catalog_copy)


def test_wrong_count_names_file_and_type(catalog_copy: Path) -> None:
    def edit(entries: list[dict]) -> None:
        entries.remove(_first_of_type(entries, "HAMMERS"))

    _edit_products(catalog_copy, "hand_tools.json", edit)
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_copy)
    message = str(info.value)
    assert "hand_tools.json" in message and "HAMMERS" in message
    assert "has 3 products, expected 4" in message


def test_nested_specification_names_file_and_sku(catalog_copy: Path) -> None:
    sku = {}

    def edit(entries: list[dict]) -> None:
        entry = _first_of_type(entries, "FAUCETS")
        entry["specifications"]["dimensions"] = {"width_in": 8, "height_in": 10}
        sku["value"] = entry["sku"]

    _edit_products(catalog_copy, "plumbing.json", edit)
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_copy)
    assert "plumbing.json" in str(info.value)
    assert sku["value"] in str(info.value)
    assert "specifications" in str(info.value)


@pytest.mark.parametrize("bad", [["a", "b"], None])
def test_list_or_null_specification_value_is_refused(catalog_copy: Path, bad) -> None:
    def edit(entries: list[dict]) -> None:
        entries[0]["specifications"]["colors"] = bad

    _edit_products(catalog_copy, "paint_finishes.json", edit)
    with pytest.raises(CatalogError, match=r"paint_finishes\.json PF"):
        load_catalog(catalog_copy)


def test_duplicate_sku_is_refused(catalog_copy: Path) -> None:
    def edit(entries: list[dict]) -> None:
        first, second = [e for e in entries if e["type"] == "SCREWS"][:2]
        second["sku"] = first["sku"]

    _edit_products(catalog_copy, "hardware.json", edit)
    with pytest.raises(CatalogError, match=r"hardware\.json HWSC\d{6}: duplicate"):
        load_catalog(catalog_copy)


def test_duplicate_name_across_files_is_refused(catalog_copy: Path) -> None:
    taken = json.loads((catalog_copy / "products" / "hand_tools.json").read_text(encoding="utf-8"))[0]["name"]

    def edit(entries: list[dict]) -> None:
        entries[0]["name"] = taken

    _edit_products(catalog_copy, "storage_organization.json", edit)
    with pytest.raises(CatalogError, match=r"storage_organization\.json SO[A-Z]{2}\d{6}: duplicate"):
        load_catalog(catalog_copy)


@pytest.mark.parametrize("cost", [0.5, 750, 12.345])
def test_cost_out_of_range_or_not_cents_is_refused(catalog_copy: Path, cost: float) -> None:
    def edit(entries: list[dict]) -> None:
        entries[0]["cost"] = cost

    _edit_products(catalog_copy, "electrical.json", edit)
    with pytest.raises(CatalogError, match=r"electrical\.json EL[A-Z]{2}\d{6}: cost"):
        load_catalog(catalog_copy)


def test_unknown_type_is_refused(catalog_copy: Path) -> None:
    def edit(entries: list[dict]) -> None:
        entries[0]["type"] = "DRILLS"  # a power-tools type inside the garden file

    _edit_products(catalog_copy, "garden_outdoor.json", edit)
    with pytest.raises(CatalogError, match=r"garden_outdoor\.json GO.*not a type of GARDEN & OUTDOOR"):
        load_catalog(catalog_copy)


def test_missing_products_file_is_refused(catalog_copy: Path) -> None:
    (catalog_copy / "products" / "lumber_building_materials.json").unlink()
    with pytest.raises(CatalogError, match=r"lumber_building_materials\.json: missing products file"):
        load_catalog(catalog_copy)
