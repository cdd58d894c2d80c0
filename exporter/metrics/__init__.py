"""The metric model between decoded data and the exposition: metric set, naming, counter guard."""
