"""Sample media made from the shared datasets: `samples.make_clip` builds labelled test clips."""
