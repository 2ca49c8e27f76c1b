package automate

// ParseGPS exposes the extra-field coordinate parser to the fuzz test.
var ParseGPS = parseGPS
