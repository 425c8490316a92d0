"""The built-in channels and notifiers, each an ordinary plugin registered through the
``faultflow`` entry-point group like any outside plugin (see pyproject.toml)."""
