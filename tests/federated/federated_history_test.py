import json

from keras_mlsec.federated import FederatedHistory


def _history():
    rounds = [{"round": 1, "loss": 2.0, "accuracy": 0.5, "train_loss": 2.1,
               "train_accuracy": 0.4, "epsilon": 1.5, "accepted": [0, 1],
               "rejected": [{"node": 9, "partition": 2, "reason": "non-finite values in array 0"}],
               "dropped": 0, "aggregated": True},
              {"round": 2, "loss": None, "accuracy": None, "train_loss": None,
               "train_accuracy": None, "epsilon": None, "accepted": [0],
               "rejected": [], "dropped": 2, "aggregated": False}]
    return FederatedHistory(rounds, strategy="fedavg", num_clients=3,
                            initial={"loss": 2.3, "accuracy": 0.1}, stopped="budget",
                            seconds=4.0)


def test_json_round_trip_and_summaries(tmp_path):
    history = _history()
    again = FederatedHistory.from_json(history.to_json(tmp_path / "h.json"))
    assert again.to_dict() == history.to_dict()
    assert json.loads((tmp_path / "h.json").read_text())["rounds"][0]["epsilon"] == 1.5
    assert history.final_accuracy == 0.5 and history.rejected_count == 1
    assert history.accuracies == [0.5, None] and history.epsilons == [1.5, None]
    text = history.to_markdown()
    assert "| 1 | 2 | 0.5 | 1.5 | 2 | 1 (2: non-finite values in array 0) |" in text
    assert "stopped: budget" in text


def test_plot_writes_a_png(tmp_path):
    path = _history().plot(tmp_path / "rounds.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


class _Record(dict):
    pass


class _Result:
    evaluate_metrics_serverapp = {0: {"loss": 2.3, "accuracy": 0.1},
                                  1: {"loss": 1.0, "accuracy": 0.7}}
    evaluate_metrics_clientapp = {}
    train_metrics_clientapp = {1: {"train_loss": 1.2, "train_accuracy": 0.6}}


def test_from_flower_result():
    screened = [{"round": 1, "sampled": 2, "accepted": [0, 1], "rejected": [], "dropped": 0,
                 "aggregated": True, "epsilon": None}]
    history = FederatedHistory.from_run(_Result(), screened, strategy="krum", num_clients=2)
    assert history.rounds[0]["accuracy"] == 0.7 and history.rounds[0]["train_loss"] == 1.2
    assert history.initial == {"loss": 2.3, "accuracy": 0.1}
