"""Reading user data files (CSV/TSV/XLSX/JSON): format and encoding detection, column choice, validation.

No web framework or database here: datasets and batch prediction both build on it.
"""
