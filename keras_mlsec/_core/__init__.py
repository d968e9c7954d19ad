"""What every capability shares; imports none of them."""
