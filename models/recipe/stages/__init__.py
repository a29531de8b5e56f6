"""The recipe's training stages, one module each (train.py dispatches to them)."""
