"""OwnNumber's domain and its adapters. Nothing here imports azure.functions."""
