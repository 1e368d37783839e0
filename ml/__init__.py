"""Pure modelling: pandas/numpy in, pandas/numpy out. No Qt, no SQLAlchemy, no HTTP."""
