"""The messages table's columns, in the order every row of it is read and kept."""

COLUMNS = ("id, account, source, destination, service_type, state, submitted, scheduled, expires,"
           " updated, final, registered_delivery, segments, upstream, carrier_id, error, body")
(ID, ACCOUNT, SOURCE, DESTINATION, SERVICE_TYPE, STATE, SUBMITTED, SCHEDULED, EXPIRES, UPDATED,
 FINAL, REGISTERED_DELIVERY, SEGMENTS, UPSTREAM, CARRIER_ID, ERROR, BODY) = range(17)
