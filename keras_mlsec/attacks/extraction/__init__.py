"""Model extraction: stealing a classifier through its prediction API.

    result = extract_model(victim, query_budget=1000, x_pool=x_pool, strategy="knockoff")
    result.report(x_test, y_test).plot("extraction.png")
    transfer_attack(result.substitute, victim, x_test, y_test, eps=0.1)
"""

from keras_mlsec.attacks.extraction.extract_model import extract_model
from keras_mlsec.attacks.extraction.extraction_report import ExtractionReport
from keras_mlsec.attacks.extraction.extraction_result import ExtractionResult
from keras_mlsec.attacks.extraction.linear import extract_linear
from keras_mlsec.attacks.extraction.model_extraction import ModelExtraction
from keras_mlsec.attacks.extraction.transfer import transfer_attack
from keras_mlsec.attacks.extraction.transfer_result import TransferResult

__all__ = ["ExtractionReport", "ExtractionResult", "ModelExtraction", "TransferResult",
           "extract_linear", "extract_model", "transfer_attack"]
