"""TutorMax Desktop: entry points and the composition root."""

__version__ = "0.1.0"
