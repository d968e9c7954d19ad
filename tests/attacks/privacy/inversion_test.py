import numpy as np
import pytest
from test_case import digits, trained_model

from keras_mlsec.attacks import InversionResult, model_inversion
from keras_mlsec.attacks.privacy.inversion import invert_classes, plot_inversions


@pytest.mark.parametrize("target", [0, 3, 7])
def test_reconstruction_is_the_target_class_and_closest_to_its_mean(target):
    (x, y), _ = digits()
    model = trained_model()
    result = model_inversion(model, target, steps=300, reference=(x, y), seed=0)
    assert isinstance(result, InversionResult)
    assert result.image.shape == (8, 8, 1)
    assert result.image.min() >= 0.0 and result.image.max() <= 1.0
    assert result.predicted_class == target and result.succeeded
    assert result.confidence > 0.9
    others = np.delete(result.class_similarities, target)
    assert result.similarity > np.median(others)  # closer than to most other class means
    assert result.rank <= 3
    assert result.similarity == pytest.approx(result.class_similarities[target])


def test_similarity_beats_a_random_image_and_reference_of_one_class_works():
    (x, y), _ = digits()
    model = trained_model()
    result = model_inversion(model, 4, steps=200, reference=x[y == 4], seed=1)
    assert result.rank is None and result.class_similarities is None
    noise = np.random.default_rng(0).uniform(size=(64,))
    mean = x[y == 4].mean(axis=0).ravel()
    assert result.similarity > abs(np.corrcoef(noise, mean)[0, 1])
    assert set(result.to_dict()) >= {"similarity", "rank", "confidence", "target_class"}


def test_batched_inversion_and_png(tmp_path):
    (x, y), _ = digits()
    results = invert_classes(trained_model(), list(range(10)), steps=200, reference=(x, y),
                             seed=0, clip=(0.0, 1.0))
    assert [r.target_class for r in results] == list(range(10))
    assert np.mean([r.rank == 1 for r in results]) >= 0.7
    path = plot_inversions(results, str(tmp_path / "inversion.png"), reference=(x, y))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_inputs_are_named():
    model = trained_model()
    (x, y), _ = digits()
    with pytest.raises(ValueError, match="target_class"):
        model_inversion(model, 10, steps=1)
    with pytest.raises(ValueError, match="target_class"):
        model_inversion(model, 1.5, steps=1)
    with pytest.raises(ValueError, match="steps"):
        model_inversion(model, 1, steps=0)
    with pytest.raises(ValueError, match="learning_rate"):
        model_inversion(model, 1, steps=1, learning_rate=0)
    with pytest.raises(ValueError, match="clip"):
        model_inversion(model, 1, steps=1, clip=(1, 0))
    with pytest.raises(ValueError, match="reference"):
        model_inversion(model, 1, steps=1, reference=x.reshape(len(x), -1))
    with pytest.raises(ValueError, match="reference"):
        model_inversion(model, 1, steps=1, reference=(x, y[:5]))
    with pytest.raises(TypeError, match="seed"):
        model_inversion(model, 1, steps=1, seed="a")
