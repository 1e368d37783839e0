"""QObject view models (signals, properties, item models, task runner). No QtWidgets."""
