"""The Textual UI. Imports no torch: it reads what the engine writes, through tbx_tui.logs."""
