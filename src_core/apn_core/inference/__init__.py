"""Turning a trained run into answers: the Predictor, its outputs, and evaluation."""

from apn_core.inference.predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]
