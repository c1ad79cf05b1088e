"""CAP 1.2 / Atom / EDXL-SitRep parse and build; built by a later issue."""
