"""Point-in-time features of tutors, customers and first sessions (pandas in, pandas out).

- :mod:`ml.features.tutor`: ``tutor_features(frames, as_of)`` and its ``FEATURE_INFO``.
- :mod:`ml.features.customer`: ``customer_features(frames, as_of)`` and ``FEATURE_INFO``.
- :mod:`ml.features.first_session`: ``first_session_rows(frames, ...)``.
- :mod:`ml.features.info`: :class:`FeatureInfo`, value formatting, ``training_features``.
"""
