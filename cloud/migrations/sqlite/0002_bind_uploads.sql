-- Uploads are bound to the device behind the EC (issue 19): the relayer remembers which device
-- each relayed creation was for, so an upload for that EC is accepted from that device only.
ALTER TABLE relays ADD COLUMN ec_address TEXT;
CREATE INDEX relays_ec ON relays (ec_address);
