"""One module per view of the main window (and the widgets they share)."""
