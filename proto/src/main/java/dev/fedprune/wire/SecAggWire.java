package dev.fedprune.wire;

import com.google.protobuf.ByteString;
import dev.fedprune.proto.v1.SecAggEnvelope;
import dev.fedprune.proto.v1.SecAggKeys;
import dev.fedprune.proto.v1.SecAggRevealedShare;
import dev.fedprune.proto.v1.SecAggSecret;
import dev.fedprune.security.secagg.KeyAdvertisement;
import dev.fedprune.security.secagg.RevealedShare;
import dev.fedprune.security.secagg.SeedShare;
import dev.fedprune.security.secagg.ShareEnvelope;

/** Secure-aggregation messages (fedprune.v1) to and from the security module's types, the same on both ends. */
public final class SecAggWire {
    private SecAggWire() {
    }

    public static SecAggKeys keys(KeyAdvertisement ad, String certificatePem) {
        return SecAggKeys.newBuilder().setAgentId(ad.agentId()).setRoundIndex(ad.roundIndex())
                .setSharePublicKey(ByteString.copyFrom(ad.sharePublicKey())).setMaskPublicKey(ByteString.copyFrom(ad.maskPublicKey()))
                .setSignature(ByteString.copyFrom(ad.signature())).setCertificatePem(certificatePem).build();
    }

    public static KeyAdvertisement advertisement(SecAggKeys keys) {
        return new KeyAdvertisement(keys.getAgentId(), keys.getRoundIndex(), keys.getSharePublicKey().toByteArray(),
                keys.getMaskPublicKey().toByteArray(), keys.getSignature().toByteArray());
    }

    public static SecAggEnvelope envelope(ShareEnvelope e) {
        return SecAggEnvelope.newBuilder().setFrom(e.from()).setTo(e.to()).setCiphertext(ByteString.copyFrom(e.ciphertext())).build();
    }

    public static ShareEnvelope envelope(SecAggEnvelope e) {
        return new ShareEnvelope(e.getFrom(), e.getTo(), e.getCiphertext().toByteArray());
    }

    public static SecAggRevealedShare share(RevealedShare r) {
        return SecAggRevealedShare.newBuilder().setHolder(r.holder()).setOwner(r.owner())
                .setSecret(r.secret() == RevealedShare.Secret.SELF_MASK_SEED ? SecAggSecret.SEC_AGG_SECRET_SELF_MASK_SEED
                        : SecAggSecret.SEC_AGG_SECRET_MASK_PRIVATE_KEY)
                .setShare(ByteString.copyFrom(r.share().toBytes())).build();
    }

    /** @throws IllegalArgumentException for an unknown secret or a share that is not a field element */
    public static RevealedShare share(SecAggRevealedShare r) {
        RevealedShare.Secret secret = switch (r.getSecret()) {
            case SEC_AGG_SECRET_SELF_MASK_SEED -> RevealedShare.Secret.SELF_MASK_SEED;
            case SEC_AGG_SECRET_MASK_PRIVATE_KEY -> RevealedShare.Secret.MASK_PRIVATE_KEY;
            default -> throw new IllegalArgumentException("unknown secret " + r.getSecret());
        };
        return new RevealedShare(r.getHolder(), r.getOwner(), secret, SeedShare.fromBytes(r.getShare().toByteArray()));
    }
}
