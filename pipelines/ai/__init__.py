"""AI: who builds the models (Epoch AI's model databases) and who owns the AI chips."""
