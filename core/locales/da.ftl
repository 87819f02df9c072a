# Tekster fra Tiplines kerne: dansk.

## Udbakke
outbox-queued = Venter på at blive sendt
outbox-sending = Sender… { $percent } %
outbox-delivered = Leveret { $date }
outbox-retrying = Ikke sendt endnu: { $reason }. Prøver igen kl. { $time }.
outbox-failed = Ikke sendt: { $reason }.
outbox-receipt-unverified = Serveren modtog rapporten, men dens kvittering kan ikke bekræftes. Rapporten gemmes her og sendes ikke igen.
reason-offline = ingen forbindelse
reason-server = serveren svarede ikke
reason-rejected = serveren afviste henvendelsen
reason-busy = serveren har travlt
reason-local = telefonen kunne ikke gemme eller læse den lige nu
reason-receipt = serverens kvittering kunne ikke bekræftes

## Hotlines
hotline-open-until = Åben nu, indtil kl. { $time }
hotline-opens-at = Lukket, åbner { $day } kl. { $time }
hotline-hours-unknown = Åbningstider er ikke offentliggjort
hotline-zone-unknown = Opdater appen for at se åbningstiderne
day-today = i dag
day-tomorrow = i morgen
day-monday = mandag
day-tuesday = tirsdag
day-wednesday = onsdag
day-thursday = torsdag
day-friday = fredag
day-saturday = lørdag
day-sunday = søndag

## Skriv en henvendelse
field-required = Udfyld venligst dette felt
field-too-long = For langt: højst { $max } tegn
field-invalid = Dette er ikke gyldigt
category-unknown = Vælg en af kategorierne
attachment-too-large = Filen er for stor: højst { $max } MB
attachments-too-many = Højst { $max } filer
time-range-reversed = Starttidspunktet ligger efter sluttidspunktet

## Præcision af stedet
precision-street = Gade (ca. 100 m)
precision-neighbourhood = Kvarter (ca. 1 km)
precision-town = By (ca. 10 km)
precision-region = Region (ca. 50 km)

## Varsler
severity-info = Information
severity-warning = Advarsel
severity-danger = Fare

## Kodenavn
codename-keep = Skriv disse ord ned, og opbevar dem et sikkert sted. Med dem kan du læse svarene på din henvendelse på enhver telefon. Alle, der har ordene, kan læse din sag.
codename-invalid = Disse ord er ikke et gyldigt kodenavn

## Vedhæftede filer
metadata-removed = Placering og kameraoplysninger er fjernet
metadata-kept = Denne filtype kan ikke renses: den kan stadig indeholde oplysninger om placering eller enhed

## Oversigt
directory-refused = Listen over politienheder kunne ikke bekræftes
