import json

import numpy as np

import pytest

from slm_backdoor.data import choose_fields
from slm_backdoor.prompts import FIELDS, answer_json, instruction, normalize, parse_answer


def test_instruction_names_fields_in_order():
    assert instruction(["transcript", "gender"]) == \
        "Listen to the speech and answer in JSON with the fields: transcript, gender."
    assert instruction(FIELDS).endswith("transcript, gender, emotion, age.")
    with pytest.raises(ValueError):
        instruction(["speaker"])
    with pytest.raises(ValueError):
        instruction([])


def test_answer_json_field_order_and_string_age():
    labels = {"age": 31, "gender": "female", "transcript": "the cat sat", "emotion": "sad"}
    s = answer_json(labels, ["transcript", "age"])
    assert s == '{"transcript": "the cat sat", "age": "31"}'
    assert list(json.loads(answer_json(labels, ["age", "gender"]))) == ["age", "gender"]
    assert parse_answer(answer_json(labels, FIELDS)) == {k: str(v) for k, v in labels.items()}
    with pytest.raises(ValueError):
        answer_json({"gender": "male"}, ["age"])


@pytest.mark.parametrize("text, expected", [
    ('{ " transcript " : " the cat sat " , " age " : " 31 " }', {"transcript": "the cat sat", "age": "31"}),
    ('{"gender": "female"}', {"gender": "female"}),
    ('sure : { " emotion " : " angry " } { " emotion " : " sad " }', {"emotion": "angry"}),
    ('{ " transcript " : " the   cat \n sat " }', {"transcript": "the cat sat"}),
    ('{"age": 31, "gender": null}', {"age": "31", "gender": ""}),
    ('{ " emotion " : " angry " } trailing words', {"emotion": "angry"}),
    ('{ } ', {}),
])
def test_parse_answer_tolerant(text, expected):
    assert parse_answer(text) == expected


@pytest.mark.parametrize("text", [
    "", "the cat sat", '{ " transcript " : " the cat', '[1, 2]', '" emotion " : " angry "', None,
    '{ emotion : angry }',
])
def test_parse_answer_rejects(text):
    assert parse_answer(text) is None


def test_normalize():
    assert normalize("  The Cat,  SAT! ") == "the cat sat"
    assert normalize("Don't") == "dont"
    assert normalize(None) == ""
    assert normalize(25) == "25"


def test_choose_fields_task_prompt_share():
    fields = ["transcript", "gender", "emotion", "age"]
    rng = np.random.default_rng(0)
    draws = [choose_fields(fields, rng, 0.2, "emotion", 0.5) for _ in range(4000)]
    alone = sum(d == ["emotion"] for d in draws) / len(draws)
    # 0.5 asked alone, plus the subset draws that happen to pick it alone (0.5 * 0.2 / 16)
    assert 0.48 < alone < 0.55
    assert sum(d == fields for d in draws) / len(draws) > 0.35
    rng = np.random.default_rng(0)
    plain = [choose_fields(fields, rng, 0.2) for _ in range(4000)]
    assert sum(d == ["emotion"] for d in plain) / len(plain) < 0.03
    with pytest.raises(ValueError, match="task field 'speaker'"):
        choose_fields(fields, rng, 0.2, "speaker", 0.5)
