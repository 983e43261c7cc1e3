"""Domain operations of the exchange; route handlers stay thin and call these."""
