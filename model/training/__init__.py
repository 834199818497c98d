"""The training pipeline of Sift's own model. Its scripts run from the repository root as
modules of this package: `python -m model.training.train CONFIG`, `python -m model.training.export
CKPT --out F.onnx`, ... (model/README.md)."""
