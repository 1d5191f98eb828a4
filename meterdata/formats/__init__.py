"""Head-end and file formats (CMEP, Green Button / ESPI, CSV) parsed into source series that
:mod:`meterdata.formats.scaling` turns into wire-format blocks. Pure: text in, records out."""
