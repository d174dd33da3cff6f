"""The streaming temporal protocol: windows of a time line, models updated window by window."""
