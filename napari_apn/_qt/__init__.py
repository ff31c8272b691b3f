"""Qt widgets of the plugin (the only Qt code); each wires controls to a core call."""
