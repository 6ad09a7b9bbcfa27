"""What Krea can do, as data: its operations (generated from Krea's OpenAPI), the job kinds and their adapters (image
today), the schema check every request body passes, and the text views of the catalog."""
