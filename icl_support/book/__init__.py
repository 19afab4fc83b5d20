"""Layer 6, book plumbing: parameters to settings (``params``), notebook helpers: glue, headers, provenance
(``notebook``), the papermill runner (``run_notebook``) and scale-out under torchrun (``distributed``)."""
