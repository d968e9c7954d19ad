import numpy as np
import pytest

from keras_mlsec import datasets


def test_digits_8x8_split_and_range():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits(test_size=0.25, seed=0)
    assert x_train.shape == (1347, 8, 8, 1) and x_test.shape == (450, 8, 8, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert set(np.unique(y_test)) == set(range(10))


def test_digits_28x28_upsampled_keeps_range_and_content():
    (x8, _), _ = datasets.load_digits(8)
    (x28, _), _ = datasets.load_digits(28)
    assert x28.shape[1:] == (28, 28, 1)
    assert 0.0 <= x28.min() and x28.max() <= 1.0
    # Upsampling keeps the mean brightness roughly.
    np.testing.assert_allclose(x28.mean(), x8.mean(), rtol=0.05)


def test_digits_flatten_and_seed():
    (a, _), _ = datasets.load_digits(flatten=True, seed=1)
    (b, _), _ = datasets.load_digits(flatten=True, seed=2)
    assert a.shape[1] == 64 and not np.array_equal(a, b)


def test_breast_cancer_standardized_on_train_split():
    (x_train, y_train), (x_test, _) = datasets.load_breast_cancer()
    assert x_train.shape[1] == 30 and set(np.unique(y_train)) == {0, 1}
    np.testing.assert_allclose(x_train.mean(0), 0.0, atol=1e-4)
    (m_train, _), (m_test, _) = datasets.load_breast_cancer(standardize=False)
    assert m_train.min() == 0.0 and m_train.max() == 1.0 and 0.0 <= m_test.min()


def test_reference_models_build_and_output_classes():
    cnn = datasets.reference_model("cnn", (28, 28, 1), 10)
    mlp = datasets.reference_model("mlp", (30,), 2, output="softmax")
    assert cnn.output_shape == (None, 10) and mlp.output_shape == (None, 2)
    probabilities = mlp.predict(np.zeros((2, 30), "float32"), verbose=0)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    ({"image_size": 16}, "Expected `image_size` 8 or 28. Received: image_size=16"),
    ({"test_size": 1.5}, "Expected `test_size` in"),
])
def test_digits_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.load_digits(**kwargs)


def test_reference_model_bad_arguments():
    with pytest.raises(ValueError, match="Expected `kind`"):
        datasets.reference_model("rnn")
    with pytest.raises(ValueError, match="Expected `input_shape` \\(height, width, channels\\)"):
        datasets.reference_model("cnn", (64,))
    with pytest.raises(ValueError, match="Expected `output`"):
        datasets.reference_model("mlp", output="probits")


def test_load_csv_reads_features_labels_and_names(tmp_path):
    import pytest

    from keras_mlsec.datasets import load_csv

    path = tmp_path / "loans.csv"
    path.write_text("sex,income,approved\n1,2.5,yes\n0,1.0,no\n1,0.5,no\n")
    x, y, names = load_csv(str(path), label="approved", positive="yes")
    assert names == ["sex", "income"] and x.shape == (3, 2) and y.tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match=r"Expected columns \['missing'\]"):
        load_csv(str(path), label="missing")
    path.write_text("sex,city,approved\n1,Paris,1\n0,Rome,0\n")
    with pytest.raises(ValueError, match=r"non-numeric columns \['city'\]"):
        load_csv(str(path), label="approved")
