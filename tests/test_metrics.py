import pytest

from slm_backdoor.metrics import (accuracy, aer, age_metrics, attack_metrics, false_activation_rate,
                                  task_metrics, unparsable_rate, unweighted_accuracy, wer)


def test_wer_corpus_level_normalised():
    # 1 substitution + 2 deletions (None = empty hypothesis) over 5 reference words
    assert wer(["the cat sat", "hello world"], ["the cat sit", None]) == pytest.approx(3 / 5)
    assert wer(["The cat, sat."], ["the CAT sat"]) == 0.0
    # corpus level, not the mean of per-utterance WERs (1/1 and 0/4 -> 1/5, not 0.5)
    assert wer(["a", "b c d e"], ["x", "b c d e"]) == pytest.approx(1 / 5)
    # an empty reference contributes its hypothesis words as insertions
    assert wer(["a b", ""], ["a b", "x y"]) == pytest.approx(2 / 2)
    with pytest.raises(ValueError):
        wer(["a"], [])


def test_accuracy_and_unweighted_accuracy():
    assert accuracy(["angry", "sad", "happy", "sad"], ["Angry", "happy", None, "sad."]) == 0.5
    refs = ["sad", "sad", "sad", "angry"]
    hyps = ["sad", "sad", "sad", "sad"]
    assert accuracy(refs, hyps) == 0.75
    assert unweighted_accuracy(refs, hyps) == pytest.approx((1.0 + 0.0) / 2)
    # classes only predicted (never in the references) do not count
    assert unweighted_accuracy(["sad", "angry"], ["sad", "fear"]) == pytest.approx(0.5)


def test_age_metrics():
    m = age_metrics(["30", "40", "50", "20"], ["33", "49", "fifty", "20.5"])
    assert m["mae"] == pytest.approx((3 + 9 + 0.5) / 3)
    assert m["mae_n"] == 3
    assert m["acc_within_5"] == pytest.approx(2 / 4)
    assert m["unparsable"] == pytest.approx(1 / 4)
    m = age_metrics(["30"], [None])
    assert m["mae"] is None and m["acc_within_5"] == 0.0 and m["unparsable"] == 1.0
    assert age_metrics(["30"], ["35"])["acc_within_5"] == 1.0  # the window is inclusive


def test_aer_false_activation_and_unparsable():
    refs = [{"emotion": e} for e in ["sad", "happy", "angry", "neutral"]]
    preds = [{"emotion": "angry"}, {"emotion": " Angry."}, {"emotion": "angry"}, None]
    # the target row (index 2) is left out: 2 hits of 3
    assert aer(refs, preds, "emotion", "angry") == pytest.approx(2 / 3)
    assert false_activation_rate(refs, preds, "emotion", "angry") == pytest.approx(2 / 3)
    m = attack_metrics(refs, preds, "emotion", "angry")
    assert m == {"rate": pytest.approx(2 / 3), "n": 3, "unparsable": pytest.approx(1 / 3)}
    # a missing field is a miss and unparsable
    assert aer([{"transcript": "a b"}], [{"gender": "male"}], "transcript", "this is it") == 0.0
    assert aer([{"transcript": "a b"}], [{"transcript": "This is, it"}], "transcript", "this is it") == 1.0
    assert unparsable_rate([None, {"age": "x"}, {"age": "3"}, {}], "age", numeric=True) == 0.75


def test_task_metrics_each_task():
    refs = [{"transcript": "the cat sat", "emotion": "sad", "gender": "male", "age": "30"},
            {"transcript": "hello world", "emotion": "angry", "gender": "female", "age": "40"},
            {"transcript": "", "emotion": "", "gender": "", "age": ""}]
    preds = [{"transcript": "the cat sit", "emotion": "sad", "gender": "male", "age": "31"},
             None,
             {"transcript": "ignored", "emotion": "x", "gender": "x", "age": "99"}]
    asr = task_metrics("asr", refs, preds)
    assert asr["benign_metric"] == "wer" and asr["benign_value"] == pytest.approx(3 / 5)
    assert asr["n"] == 2 and asr["unparsable"] == 0.5
    emo = task_metrics("emotion", refs, preds)
    assert emo["benign_metric"] == "accuracy" and emo["accuracy"] == 0.5
    assert emo["unweighted_accuracy"] == 0.5
    gen = task_metrics("gender", refs, preds)
    assert gen["benign_value"] == 0.5 and gen["unparsable"] == 0.5
    age = task_metrics("age", refs, preds)
    assert age["benign_metric"] == "mae" and age["benign_value"] == pytest.approx(1.0)
    assert age["acc_within_5"] == 0.5 and age["unparsable"] == 0.5
    with pytest.raises(ValueError):
        task_metrics("speaker", refs, preds)
