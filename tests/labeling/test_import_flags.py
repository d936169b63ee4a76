"""Bulk intake from a file: the API's rules, all or nothing, errors by line and field."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from supportability.models import Merchant, Score

pytestmark = pytest.mark.django_db
HEADER = (
    "external_id,name,country,mcc,url,description,website_text,refund_rate,dispute_rate,"
    "cnp_share,account_age_days,monthly_volume,model_name,model_version,score,category,"
    "explanation\n"
)
GOOD = (
    "M-1,Pharma Shop,GB,5122,,pills,,0.1,0.01,1,30,5000,det,1,0.9,drugs,"
    '"{""terms"": [[""pills"", 1.5]]}"\n'
)


def test_a_csv_export_is_imported_through_the_api_rules(tmp_path, capsys):
    path = tmp_path / "flags.csv"
    path.write_text(HEADER + GOOD + GOOD.replace("M-1", "M-2"))
    call_command("import_flags", str(path))
    assert "Imported 2 rows: 2 merchants created" in capsys.readouterr().out
    merchant = Merchant.objects.get(external_id="M-1")
    assert merchant.monthly_volume == 5000.0 and merchant.account_age_days == 30
    assert Score.objects.get(merchant=merchant).explanation == {"terms": [["pills", 1.5]]}


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (GOOD.replace(",5000,", ",nan,"), "line 3: merchant.monthly_volume: Must be a finite"),
        (GOOD.replace(",5000,", ",inf,"), "line 3: merchant.monthly_volume: Must be a finite"),
        (GOOD.replace(",0.1,", ",true,"), "line 3: merchant.refund_rate: Must be a number"),
        (GOOD.replace(",5122,", ",٥١٢٢,"), "line 3: merchant.mcc"),
        (GOOD.replace('[[""pills"", 1.5]]', "5"), "line 3: explanation.terms"),
        (GOOD.replace(",0.9,", ",NaN,"), "line 3: score: Must be a finite"),
    ],
)
def test_one_bad_row_refuses_the_whole_file_naming_line_and_field(tmp_path, bad_row, expected):
    path = tmp_path / "flags.csv"
    path.write_text(HEADER + GOOD.replace("M-1", "M-0") + bad_row.replace("M-1", "M-9"))
    with pytest.raises(CommandError) as refused:
        call_command("import_flags", str(path))
    assert expected in str(refused.value)
    assert not Merchant.objects.exists()


def test_json_lines_take_the_api_rows_as_they_are(tmp_path):
    row = {
        "merchant": {"external_id": "J-1", "name": "X", "country": "US", "mcc": "5999"},
        "model": {"name": "det", "version": "1"},
        "score": 0.5,
    }
    path = tmp_path / "flags.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row | {"score": True}) + "\n")
    with pytest.raises(CommandError, match="line 2: score: Must be a number, not a boolean"):
        call_command("import_flags", str(path))
    path.write_text(json.dumps(row) + "\n")
    call_command("import_flags", str(path))
    assert Merchant.objects.filter(external_id="J-1").exists()
