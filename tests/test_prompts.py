import json

import pytest

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
