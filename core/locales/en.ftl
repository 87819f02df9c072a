# Tipline core strings: English.

## Outbox
outbox-queued = Waiting to be sent
outbox-sending = Sending… { $percent }%
outbox-delivered = Delivered { $date }
outbox-retrying = Not sent yet: { $reason }. Trying again at { $time }.
outbox-failed = Not sent: { $reason }.
outbox-receipt-unverified = The server took the report, but its receipt does not check out. The report is kept here and not sent again.
reason-offline = no connection
reason-server = the server did not answer
reason-rejected = the server refused the report
reason-busy = the server is busy
reason-local = this phone could not store or read it for now
reason-receipt = the server's receipt could not be checked

## Hotlines
hotline-open-until = Open now, until { $time }
hotline-opens-at = Closed, opens { $day } at { $time }
hotline-hours-unknown = Opening hours not published
hotline-zone-unknown = Update the app to see the opening hours
day-today = today
day-tomorrow = tomorrow
day-monday = Monday
day-tuesday = Tuesday
day-wednesday = Wednesday
day-thursday = Thursday
day-friday = Friday
day-saturday = Saturday
day-sunday = Sunday

## Writing a report
field-required = Please fill this in
field-too-long = Too long: at most { $max } characters
field-invalid = This is not valid
category-unknown = Choose one of the categories
attachment-too-large = The file is too large: at most { $max } MB
attachments-too-many = At most { $max } files
time-range-reversed = The start is after the end

## Location precision
precision-street = Street (about 100 m)
precision-neighbourhood = Neighbourhood (about 1 km)
precision-town = Town (about 10 km)
precision-region = Region (about 50 km)

## Alerts
severity-info = Information
severity-warning = Warning
severity-danger = Danger

## Codename
codename-keep = Write these words down and keep them safe. With them you can read the answers to your report on any phone. Anyone who has them can read your case.
codename-invalid = These words are not a valid codename

## Attachments
metadata-removed = Location and camera details removed
metadata-kept = This kind of file cannot be cleaned: it may still contain location or device details

## Directory
directory-refused = The list of police units could not be verified
