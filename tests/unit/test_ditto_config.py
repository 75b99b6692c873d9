"""`python -m zava_ops ditto-config`: the connector configuration follows the model module, the YAML is
well-formed, and no credential ever reaches the output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zava_core.model import COLLECTIONS, ROLLUPS
from zava_ditto import connector_config as ditto_config

ROOT = Path(__file__).resolve().parents[2]
SYNCED = [s for s in COLLECTIONS if s.synced]
NOT_SYNCED = [s for s in (*COLLECTIONS, *ROLLUPS) if not s.synced]


# A reader for the block-style subset `to_yaml` writes (no dependency): mappings, sequences, scalars.
def parse_yaml(text: str) -> object:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#") and ln != "---"]
    value, end = _parse(lines, 0, _indent(lines[0]))
    assert end == len(lines), f"unparsed from line {end}: {lines[end]!r}"
    return value


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _parse(lines: list[str], i: int, indent: int) -> tuple[object, int]:
    if lines[i][indent:].startswith("- "):
        items = []
        while i < len(lines) and _indent(lines[i]) == indent and lines[i][indent:].startswith("- "):
            rest = lines[i][indent + 2:]
            if re.match(r"^[A-Za-z_][\w./-]*:( |$)", rest):  # a mapping starts on the dash's line
                lines[i] = " " * (indent + 2) + rest
                item, i = _parse(lines, i, indent + 2)
            else:
                item, i = _scalar(rest), i + 1
            items.append(item)
        return items, i
    mapping: dict = {}
    while i < len(lines) and _indent(lines[i]) == indent:
        key, sep, rest = lines[i].strip().partition(": ") if ": " in lines[i] else (lines[i].strip()[:-1], ":", "")
        assert sep, lines[i]
        if rest:
            mapping[_scalar(key)], i = _scalar(rest), i + 1
        else:
            assert _indent(lines[i + 1]) > indent, f"empty value for {key!r}"
            mapping[_scalar(key)], i = _parse(lines, i + 1, _indent(lines[i + 1]))
    return mapping, i


def _scalar(text: str) -> object:
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    fixed = {"true": True, "false": False, "null": None, "{}": {}, "[]": []}
    if text in fixed:
        return fixed[text]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


# --- the model drives the configuration -----------------------------------------------------------


def test_manifest_maps_exactly_the_synced_collections_with_their_id_fields() -> None:
    options = ditto_config.OperatorOptions(database="zava_prod", namespace="edge", app_name="zava-app",
                                           big_peer="bp1", secret_name="mongo-conn")
    manifest = parse_yaml(ditto_config.operator_manifest(options))
    assert manifest == ditto_config.operator_resource(options), "the YAML reads back as the resource"
    assert manifest["apiVersion"] == "ditto.live/v1alpha1"
    assert manifest["kind"] == "BigPeerDataBridge"
    assert manifest["metadata"]["namespace"] == "edge"
    assert manifest["metadata"]["labels"] == {"ditto.live/app": "zava-app", "ditto.live/big-peer": "bp1"}
    connector = manifest["spec"]["bridge"]["mongoConnector"]
    assert connector["database"] == "zava_prod"
    assert connector["connectionSecret"] == {"kubernetesSecret": {"name": "mongo-conn"}}
    collections = connector["collections"]
    assert list(collections) == [s.name for s in SYNCED]
    for spec in SYNCED:
        expected_fields = ["_id"] if spec.ditto_id == "match_ids" else [spec.id_field]
        assert collections[spec.name] == {"fields": expected_fields, "initialSync": True, "mode": "json",
                                          "dqlStrictMode": False}, spec.name
    for spec in NOT_SYNCED:
        assert spec.name not in collections


def test_portal_checklist_names_each_collection_and_its_mapping() -> None:
    text = ditto_config.portal_checklist("zava", app_id="0f3c2a4e-app", cloud_endpoint="https://0f3c.cloud.example")
    assert "`0f3c2a4e-app`" in text
    items = [ln.strip() for ln in text.splitlines() if ln.startswith("  - [ ] `")]
    assert len(items) == len(SYNCED)
    for spec, item in zip(SYNCED, items, strict=True):
        label = "Match IDs" if spec.ditto_id == "match_ids" else "Map fields to Ditto ID"
        assert item.startswith(f"- [ ] `{spec.name}`: {label}, ")
        assert f"`{spec.ditto_id_fields[0]}`" in item
    not_synced = text.split("## 3. Not synced", 1)[1].split("## 4.", 1)[0]
    assert [ln.split("`")[1] for ln in not_synced.splitlines() if ln.startswith("- `")] == [s.name
                                                                                          for s in NOT_SYNCED]
    for spec in SYNCED:
        for map_field in spec.map_fields:
            assert f"`{spec.name}.{map_field}`" in text
    assert "https://0f3c.cloud.example/api/v4/store/execute" in text
    assert "$DITTO_API_KEY" in text
    bare = ditto_config.portal_checklist("zava")  # without the DITTO_* settings: say what to set, no HTTP step
    assert "set DITTO_APP_ID" in bare and "/api/v4/store/execute" not in bare


@pytest.mark.parametrize("value", ["yes", "No", "on", "true", "null", "~", "123", "1.5", "", "a: b", "x #y",
                                   "- item", "it's", 'say "hi"', "Zava DIY: MongoDB <-> Ditto", "naïve"])
def test_yaml_strings_read_back_as_the_same_strings(value: str) -> None:
    assert parse_yaml(ditto_config.to_yaml({"key": value, "list": [value]})) == {"key": value, "list": [value]}


def test_yaml_nests_mappings_in_sequences() -> None:
    data = {"a": [{"b": 1, "c": ["x", "y"]}, {"d": {"e": False}}], "f": {}, "g": []}
    assert parse_yaml(ditto_config.to_yaml(data)) == data


# --- the command ------------------------------------------------------------------------------------


def run_config(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "ZAVA_", "DITTO_"))}
    clean["PYTHONPATH"] = str(ROOT)
    clean["ZAVA_DATA_DIR"] = str(tmp_path / "zava-data")
    return subprocess.run([sys.executable, "-m", "zava_ops", "ditto-config", *args], cwd=tmp_path,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False)


def test_command_never_prints_credentials_and_needs_no_server(tmp_path: Path) -> None:
    secrets = {"MONGODB_URI": "mongodb://admin:Zsecret9@db.example.com:27017/", "MONGODB_DATABASE": "zava_x",
               "DITTO_API_KEY": "dak_Zsecret_api_key", "DITTO_APP_ID": "app-123",
               "DITTO_CLOUD_ENDPOINT": "https://app-123.cloud.example"}
    for fmt in ("operator", "portal"):
        result = run_config(tmp_path, "--format", fmt, **secrets)
        assert result.returncode == 0, result.stderr
        out = result.stdout + result.stderr
        assert "Zsecret" not in out and "db.example.com" not in out
        assert "zava_x" in result.stdout  # the database name comes from the settings
    assert not (tmp_path / "zava-data").exists(), "no engine was started"


def test_output_file_holds_what_stdout_would(tmp_path: Path) -> None:
    target = tmp_path / "connector.yaml"
    printed = run_config(tmp_path, "--namespace", "edge")
    written = run_config(tmp_path, "--namespace", "edge", "--output", str(target))
    assert printed.returncode == written.returncode == 0
    assert written.stdout == ""
    assert target.read_text(encoding="utf-8") == printed.stdout
    assert parse_yaml(printed.stdout)["metadata"]["namespace"] == "edge"


def test_docs_table_states_the_models_mapping() -> None:
    """docs/ditto.md's table is written by hand: it must say what the model says."""
    rows = {}
    for line in (ROOT / "docs" / "ditto.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1] in {"yes", "**no**"}:
            rows[cells[0]] = cells
    assert set(rows) == {s.name for s in (*COLLECTIONS, *ROLLUPS)}
    for spec in SYNCED:
        _, synced, mapping, fields, maps = rows[spec.name]
        assert synced == "yes"
        assert mapping.startswith(ditto_config.PORTAL_MAPPING[spec.ditto_id]), spec.name
        assert fields == f"`[{spec.ditto_id_fields[0]}]`", spec.name
        assert maps == (", ".join(f"`{m}`" for m in spec.map_fields) or "-"), spec.name
    for spec in NOT_SYNCED:
        assert rows[spec.name][1] == "**no**"
