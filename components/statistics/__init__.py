"""Statistics: TFDV statistics per split + a self-contained HTML report (report_html.py)."""
