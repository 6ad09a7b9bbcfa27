"""What Krea can do, as data: the model catalog (generated from Krea's OpenAPI), the image adapter, text views."""
