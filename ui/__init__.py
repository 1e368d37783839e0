"""QtWidgets views, dialogs, charts and the tray icon. Imports viewmodels/ only."""
