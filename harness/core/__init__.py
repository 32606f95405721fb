"""The bottom layer: what every other part of the harness stands on.

The schema (``records``, ``manifest``, ``fits``), the run store (``store``, ``columns``),
the plugin contracts and their registries (``task``, ``verifier``, ``backend``,
``registry``), typed plugin options (``options``), answer text and code-test formats
shared by tasks and verifiers (``answers``, ``codetests``, ``values``), run
configuration (``config``), errors and version stamps. Nothing here imports any other
part of the project: tasks, verifiers, analysis and backends import only this package.
"""
