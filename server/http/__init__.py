"""What every door reads from a request the same way: parameters, bodies, path converters."""
