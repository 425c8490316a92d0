"""The network the contract maintains — the registry: vendors, the connected units (each with
its own customer manager), their sites, leased lines and devices.

``model.py`` (pure: the kinds, their fields, reading and checking a row), ``sheets.py`` (the
spreadsheets contractors keep: XLSX and CSV, in and out), ``api.py`` (the Engine's methods).
The tables and their statements are ``db/network.py``; each change is logged there, hash-chained.
docs/registry.md explains the model and the spreadsheet columns.
"""
