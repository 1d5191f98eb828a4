"""Pure meter-data model: wire codec, head-end formats, day rows and their merge arithmetic."""
