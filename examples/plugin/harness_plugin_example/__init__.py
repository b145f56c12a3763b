"""An example harness plugin: a backend, a task, a sandbox and a scorer, registered through
entry points (see pyproject.toml and the harness's docs/plugins.md)."""
