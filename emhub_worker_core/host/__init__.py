"""The host: loads the plugins, checks their settings tables, routes each task to a
handler, runs it in its own thread under the supervisor, and keeps the main loop
(intake, tickers, shutdown).

Imports the layers below it (contract, ops, sources); only the CLI and the test kit
import it.
"""
