"""The form registry: publishing XLSForms as versions and the compiled models of published versions."""
