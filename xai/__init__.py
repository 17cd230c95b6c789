"""Explanations: Captum methods, projection back to time, trust scores (issue 4)."""
